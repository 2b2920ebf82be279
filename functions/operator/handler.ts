import { apiGatewayHandler, type ApiGatewayHandler } from '../../adapters/http/apigateway';
import type { Runtime } from '../../adapters/runtime';
import { createOperatorApi, type OperatorApiOptions } from '../../api/apis';

/** The operator API behind API Gateway (IAM-authorized there; token-checked in local mode). */
export function createOperatorHandler(runtime: Runtime, options: OperatorApiOptions = {}): ApiGatewayHandler {
  return apiGatewayHandler(createOperatorApi(runtime, options));
}
