import { apiGatewayHandler, type ApiGatewayEvent, type ApiGatewayHandler } from '../../adapters/http/apigateway';
import type { Runtime } from '../../adapters/runtime';
import { createPartnerApi } from '../../api/partner-api';

/** The partner API behind API Gateway (HTTP API, payload 2.0; or REST, 1.0): authenticate, validate, record, queue. */
export function createIngestHandler(runtime: Runtime): ApiGatewayHandler<ApiGatewayEvent> {
  return apiGatewayHandler(createPartnerApi(runtime));
}
