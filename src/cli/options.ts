/**
 * The options each command takes, by name: the parsers (src/cli/cli.ts, src/cli/cli-compare.ts) split
 * their arguments by them, and test/cli.test.ts holds them equal to the help pages (src/cli/help.ts).
 */
export const OPTIONS = {
  load: { options: ["api", "warmup", "vus", "duration", "inject-cpu"], switches: ["pin"] },
  iterations: { options: ["api", "warmup", "vus", "iterations", "inject-cpu"], switches: ["pin"] },
  rate: { options: ["api", "warmup", "rate", "duration", "inject-cpu"], switches: ["pin"] },
  compare: { options: ["repeat", "gateways", "runtimes", "platforms", "api", "warmup", "seed", "cases", "rate", "slo", "start", "max", "step", "vus", "duration", "rate-duration", "equivalence", "budget"], switches: ["pin", "capacity", "closed-only", "until-decided", "metronome"] },
  calibrate: { options: ["repeat", "max-repeat", "rate", "inject", "warmup", "seed"], switches: [] },
  chaos: { options: ["mode", "at", "api", "warmup", "vus", "duration"], switches: [] },
  report: { options: ["baseline"], switches: [] },
  "bench-driver": { options: ["concurrency", "windows", "window", "warmup"], switches: [] },
} satisfies Record<string, { options: string[]; switches: string[] }>;

