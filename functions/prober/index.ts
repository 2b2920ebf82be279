// Lambda entry point; wired to the real handler in the ingestion/delivery work.
export const handler = async (): Promise<unknown> => ({ statusCode: 501, body: 'not implemented' });
