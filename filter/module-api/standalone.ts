/**
 * Runs one filter module as its own milter, outside the policy service — PureMessage's
 * "PerlMx as a standalone milter" case. The module gets the same pipeline seams as inside the
 * service (envelope callbacks, then onMessage), with X-Parapet-Id and tempfail-on-fault.
 */
import {
  createMilterServer,
  type MilterServer,
  type MilterServerOptions,
} from '../milter/server.js';
import { createPipeline, type PipelineOptions } from '../pipeline/pipeline.js';
import { acceptAllPolicy } from '../pipeline/policy-hook.js';
import { moduleEnvelopeChecker, modulePolicy, type FilterModule } from './filter-module.js';

export type StandaloneModuleOptions = Omit<MilterServerOptions, 'pipeline'> & {
  /** Message log, quarantine, deadline and events for the module's pipeline. */
  readonly pipeline?: Omit<PipelineOptions, 'policy' | 'envelopeCheckers'>;
};

/**
 * Starts a milter on `options.tcp` and/or `options.unixSocket` that runs `modules` for every
 * message. Resolves once listening; close() drains like the policy service.
 */
export function runFilterModuleAsMilter(
  modules: FilterModule | readonly FilterModule[],
  options: StandaloneModuleOptions,
): Promise<MilterServer> {
  const list = Array.isArray(modules)
    ? (modules as readonly FilterModule[])
    : [modules as FilterModule];
  const { pipeline: pipelineOptions, ...server } = options;
  const pipeline = createPipeline({
    ...pipelineOptions,
    envelopeCheckers: [moduleEnvelopeChecker(list)],
    policy: modulePolicy(list, acceptAllPolicy),
  });
  return createMilterServer({ ...server, pipeline });
}
