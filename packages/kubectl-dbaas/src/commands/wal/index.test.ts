// Argument parsing of the wal commands through the real root command.
import { describe, expect, it } from 'vitest';
import { usageError } from '../../test-support/usage-error.js';

describe("kubectl dbaas wal: usage errors exit 2 with our own message and the command's --help", () => {
  it.each([
    [['wal', 'inspect'], /^error: name what to inspect: kubectl dbaas wal inspect DIRECTORY .* or FILE/, 'wal inspect'],
    [['wal', 'inspect', '/data', '-A'], /Unknown argument: A/, 'wal inspect'],
    [['wal'], /Name a wal command: inspect or status/, 'wal'],
  ])('%j', async (args, message, command) => {
    const stderr = await usageError(args);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/Not enough non-option arguments/);
    expect(stderr).toContain(`Run 'kubectl dbaas ${command} --help' for usage.`);
  });
});
