import { apiGatewayHandler, type ApiGatewayHandler } from '../../adapters/http/apigateway';
import type { Runtime } from '../../adapters/runtime';
import { createPartnerApi } from '../../api/partner-api';

/** The partner API behind API Gateway: authenticate, validate, record, queue. */
export function createIngestHandler(runtime: Runtime): ApiGatewayHandler {
  return apiGatewayHandler(createPartnerApi(runtime));
}
