#!/usr/bin/env node
// The `fuelcard` command. The CLI is TypeScript run through tsx's loader in this same process
// (no second node process), so signals, stdin and the exit code belong to the command itself.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
