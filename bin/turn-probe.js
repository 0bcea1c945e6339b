#!/usr/bin/env node
// The turn-probe command: cli/probe.ts as compiled into dist/ when the package is packed, so
// plain node runs it with no TypeScript runner; in a checkout, the source (see cli.js).
import { runCli } from "./cli.js";

await runCli("probe", "turn-probe");
