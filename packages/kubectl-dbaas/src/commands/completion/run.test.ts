import { describe, expect, it } from 'vitest';
import { completionScript, shellFromEnvironment } from './run.js';

describe('completionScript', () => {
  it('bash: registers a function for kubectl-dbaas that asks the CLI for candidates', () => {
    const script = completionScript('bash');
    expect(script).toContain('complete -o bashdefault -o default -F _kubectl_dbaas_yargs_completions kubectl-dbaas');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's ${args[@]} in the completion script
    expect(script).toContain('kubectl-dbaas --get-yargs-completions "${args[@]}"');
  });

  it('zsh: a #compdef file', () => {
    const script = completionScript('zsh');
    expect(script.startsWith('#compdef kubectl-dbaas\n')).toBe(true);
    expect(script).toContain('compdef _kubectl_dbaas_yargs_completions kubectl-dbaas');
  });
});

describe('shellFromEnvironment', () => {
  it('follows $SHELL, bash by default', () => {
    expect(shellFromEnvironment({ SHELL: '/bin/zsh' })).toBe('zsh');
    expect(shellFromEnvironment({ SHELL: '/bin/bash' })).toBe('bash');
    expect(shellFromEnvironment({})).toBe('bash');
  });
});
