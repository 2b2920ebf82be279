/**
 * Sample CDK app: one `Sluice` stack holding one `SluiceGateway`, checked by cdk-nag
 * and by cfn-guard's Control Tower rules (the rules and the guard binary ship in the
 * npm package). Environment-agnostic (no account/region lookups), so it synthesizes offline.
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import cdkNag from 'cdk-nag'; // CommonJS: Node's ESM loader sees only its default export
import { SluiceGateway } from './sluice-gateway';

const app = new App();
const stack = new Stack(app, 'Sluice', {
  description: 'Sluice: serverless guaranteed-delivery gateway',
});
new SluiceGateway(stack, 'Gateway');
// Policy-validation plugins: any unacknowledged finding fails `cdk synth`.
Validations.of(app).addPlugins(new cdkNag.AwsSolutionsChecks(app, { verbose: true }), new CfnGuardValidator());
app.synth();
