import { startEmulators } from '../local/emulators.ts';
import { AwsClient } from '../adapters/aws/protocol/client.ts';
import { dynamodbService } from '../adapters/aws/protocol/dynamodb.ts';
import { DocumentClient, PutCommand, GetCommand, QueryCommand, UpdateCommand, TransactWriteCommand, BatchGetCommand } from '../adapters/aws/protocol/dynamodb-documents.ts';
import { DynamoDBClient, CreateTableCommand } from '@aws-sdk/client-dynamodb';
const em = await startEmulators();
try {
  const sdk = new DynamoDBClient({ region: 'us-east-1', endpoint: em.dynamodbEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await sdk.send(new CreateTableCommand({ TableName: 'ttt', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }] }));
  const c = new AwsClient(dynamodbService, { region: 'us-east-1', endpoint: em.dynamodbEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const d = new DocumentClient(c);
  await d.send(new PutCommand({ TableName: 'ttt', Item: { pk: 'a', sk: '1', n: 5, b: new Uint8Array([1, 2, 3]), m: { x: [1, 'y', new Uint8Array([9])] } } }));
  console.log(await d.send(new GetCommand({ TableName: 'ttt', Key: { pk: 'a', sk: '1' } })));
  console.log(await d.send(new UpdateCommand({ TableName: 'ttt', Key: { pk: 'a', sk: '1' }, UpdateExpression: 'SET n = n + :one', ExpressionAttributeValues: { ':one': 1 }, ReturnValues: 'ALL_NEW' })));
  try { await d.send(new PutCommand({ TableName: 'ttt', Item: { pk: 'a', sk: '1' }, ConditionExpression: 'attribute_not_exists(pk)' })); } catch (e: any) { console.log('err', e.name, e.message, e.$metadata); }
  try { await d.send(new TransactWriteCommand({ TransactItems: [{ Put: { TableName: 'ttt', Item: { pk: 'a', sk: '1' }, ConditionExpression: 'attribute_not_exists(pk)' } }, { Put: { TableName: 'ttt', Item: { pk: 'b', sk: '1' } } }] })); } catch (e: any) { console.log('err', e.name, e.CancellationReasons, e.$metadata); }
  console.log(await d.send(new QueryCommand({ TableName: 'ttt', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': 'a' } })));
  console.log(JSON.stringify(await d.send(new BatchGetCommand({ RequestItems: { ttt: { Keys: [{ pk: 'a', sk: '1' }, { pk: 'z', sk: '1' }] } } }))));
} finally { await em.stop(); }
