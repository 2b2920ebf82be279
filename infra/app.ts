/**
 * Sample CDK app: one `Sluice` stack holding one `SluiceGateway`, checked by cdk-nag.
 * Environment-agnostic (no account/region lookups), so it synthesizes offline.
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import cdkNag from 'cdk-nag'; // CommonJS: Node's ESM loader sees only its default export
import { SluiceGateway } from './sluice-gateway';

const app = new App();
const stack = new Stack(app, 'Sluice', {
  description: 'Sluice: serverless guaranteed-delivery gateway',
});
new SluiceGateway(stack, 'Gateway');
// cdk-nag v3 is a policy-validation plugin: any unacknowledged finding fails `cdk synth`.
Validations.of(app).addPlugins(new cdkNag.AwsSolutionsChecks(app, { verbose: true }));
app.synth();
