/** Runs once before all test files. Heavy set-up (the Next build) happens lazily in startApp. */
export default function setup(): void {
  process.env.BROKERWATCH_TEST = "1";
}
