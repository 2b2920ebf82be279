import type {
  BatchGetCommandInput,
  BatchGetCommandOutput,
  BatchWriteCommandInput,
  BatchWriteCommandOutput,
  DeleteCommandInput,
  DeleteCommandOutput,
  GetCommandInput,
  GetCommandOutput,
  PutCommandInput,
  PutCommandOutput,
  QueryCommandInput,
  QueryCommandOutput,
  ScanCommandInput,
  ScanCommandOutput,
  TransactWriteCommandInput,
  TransactWriteCommandOutput,
  UpdateCommandInput,
  UpdateCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { marshall, type marshallOptions, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AwsClient, CallMiddleware } from './client';
import * as raw from './dynamodb';
import type { Command, Operation } from './operation';

/** A document command: the plain-object input of lib-dynamodb's command of the same name, over the raw operation. */
interface DocumentCommand<I, O> {
  readonly documentInput: I;
  readonly rawOperation: Operation<any, any>;
  readonly __output?: O;
}

function documentCommandFor<I, O>(rawCommand: new (input: any) => Command<any, any>) {
  const operation = new rawCommand({}).operation;
  return class implements DocumentCommand<I, O> {
    readonly rawOperation = operation;
    declare readonly __output?: O;
    constructor(readonly documentInput: I) {}
  };
}

export const GetCommand = documentCommandFor<GetCommandInput, GetCommandOutput>(raw.GetItemCommand);
export const PutCommand = documentCommandFor<PutCommandInput, PutCommandOutput>(raw.PutItemCommand);
export const UpdateCommand = documentCommandFor<UpdateCommandInput, UpdateCommandOutput>(raw.UpdateItemCommand);
export const DeleteCommand = documentCommandFor<DeleteCommandInput, DeleteCommandOutput>(raw.DeleteItemCommand);
export const QueryCommand = documentCommandFor<QueryCommandInput, QueryCommandOutput>(raw.QueryCommand);
export const ScanCommand = documentCommandFor<ScanCommandInput, ScanCommandOutput>(raw.ScanCommand);
export const BatchGetCommand = documentCommandFor<BatchGetCommandInput, BatchGetCommandOutput>(raw.BatchGetItemCommand);
export const BatchWriteCommand = documentCommandFor<BatchWriteCommandInput, BatchWriteCommandOutput>(raw.BatchWriteItemCommand);
export const TransactWriteCommand = documentCommandFor<TransactWriteCommandInput, TransactWriteCommandOutput>(
  raw.TransactWriteItemsCommand,
);

/**
 * DynamoDB with items as plain objects, as `DynamoDBDocumentClient` offers it: it shares the
 * raw client (and so its middleware), marshalling before the raw client's middleware sees
 * the input and unmarshalling once its deserializer has read the answer.
 */
export class DocumentClient {
  private readonly middleware: CallMiddleware;

  constructor(
    readonly client: AwsClient,
    options: marshallOptions = { removeUndefinedValues: true, convertClassInstanceToMap: false },
  ) {
    this.middleware = [
      [
        (next, context) => (args) => {
          // The benchmark's meter reads this flag as it reads the SDK's (dynamodb-meter.ts).
          context.__aws_sdk_context.features.DDB_MAPPER = 'd';
          return next({ ...args, input: raw.mapItems(args.input, (item) => marshall(item, options)) });
        },
        { step: 'initialize', name: 'DocumentMarshall', priority: 'high' },
      ],
      [
        (next) => async (args) => {
          const result = await next(args);
          return { ...result, output: raw.mapItems(result.output, (item) => unmarshall(item)) };
        },
        { step: 'deserialize', name: 'DocumentUnmarshall' },
      ],
    ];
  }

  get middlewareStack() {
    return this.client.middlewareStack;
  }

  send<I, O>(command: DocumentCommand<I, O>): Promise<O> {
    return this.client.send({ operation: command.rawOperation, input: command.documentInput }, this.middleware) as Promise<O>;
  }
}
