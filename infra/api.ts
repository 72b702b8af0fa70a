import { EndpointType, LambdaIntegration, RestApi } from 'aws-cdk-lib/aws-apigateway';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { type ApiHandlerName, ROUTES } from '../functions/api/routes.js';

export interface ExportApiProps {
  /** The function behind each API handler name of the route table. */
  readonly handlers: Readonly<Record<ApiHandlerName, IFunction>>;
  /**
   * Name of the deployment stage; it is the first segment of every URL path.
   * @default 'v1'
   */
  readonly stageName?: string;
}

/**
 * The REST API, built from the route table that the embedded runtime's HTTP adapter also serves,
 * so both expose the same methods and paths. Every method is a Lambda proxy integration; the
 * handlers verify the bearer token themselves, so API Gateway does no authorization.
 */
export class ExportApi extends Construct {
  readonly restApi: RestApi;

  constructor(scope: Construct, id: string, props: ExportApiProps) {
    super(scope, id);

    this.restApi = new RestApi(this, 'RestApi', {
      description: 'Segment export jobs API (/export/jobs)',
      endpointTypes: [EndpointType.REGIONAL],
      // Execution logging is off, so the account-wide CloudWatch role is not needed.
      cloudWatchRole: false,
      deployOptions: { stageName: props.stageName ?? 'v1', tracingEnabled: true },
    });

    // One integration per function: each adds only the Lambda permissions of its own methods.
    const integrations = new Map<ApiHandlerName, LambdaIntegration>();
    for (const route of ROUTES) {
      let integration = integrations.get(route.handler);
      if (!integration) {
        integration = new LambdaIntegration(props.handlers[route.handler], { allowTestInvoke: false });
        integrations.set(route.handler, integration);
      }
      this.restApi.root.resourceForPath(route.path).addMethod(route.method, integration);
    }
  }
}
