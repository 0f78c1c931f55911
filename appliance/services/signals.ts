/** Resolves with the first SIGTERM or SIGINT; a second one while draining exits at once. */
export function waitForStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
      // A second signal means "stop now": the MTA keeps whatever was not answered.
      process.once('SIGTERM', () => process.exit(1));
      process.once('SIGINT', () => process.exit(1));
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/**
 * Tells the supervisor (pm2 with `wait_ready`) that the service is up and listening, so that
 * "online" means ready to take traffic. A no-op when not run under pm2.
 */
export function signalReady(): void {
  if (typeof process.send === 'function') process.send('ready');
}
