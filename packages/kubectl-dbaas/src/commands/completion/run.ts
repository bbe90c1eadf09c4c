/** Shells `kubectl dbaas completion` writes a script for. */
export const COMPLETION_SHELLS = ['bash', 'zsh'] as const;

/** One of {@link COMPLETION_SHELLS}. */
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/**
 * The shell named by `$SHELL` when it is one of {@link COMPLETION_SHELLS}, else bash.
 *
 * @example
 * ```ts
 * shellFromEnvironment({ SHELL: '/usr/bin/zsh' }); // 'zsh'
 * ```
 */
export function shellFromEnvironment(environment: NodeJS.ProcessEnv = process.env): CompletionShell {
  return /(^|\/)zsh$/.test(environment['SHELL'] ?? '') ? 'zsh' : 'bash';
}

/**
 * The completion script for `kubectl-dbaas` (the plugin executable; kubectl 1.26+ also completes
 * `kubectl dbaas ...` through the `kubectl_complete-dbaas` executable). The scripts ask the CLI
 * itself for candidates with yargs' `--get-yargs-completions` protocol, so they never go stale.
 *
 * @example
 * ```ts
 * process.stdout.write(completionScript('bash'));
 * ```
 */
export function completionScript(shell: CompletionShell, program = 'kubectl-dbaas'): string {
  const fn = `_${program.replace(/[^A-Za-z0-9_]/g, '_')}_yargs_completions`;
  if (shell === 'zsh') {
    return `#compdef ${program}
###-begin-${program}-completions-###
#
# zsh completion for ${program} (kubectl dbaas).
# Install: ${program} completion zsh > "\${fpath[1]}/_${program}"
#      or: source <(${program} completion zsh)
#
${fn}()
{
  local reply
  local si=$IFS
  IFS=$'\\n' reply=($(COMP_CWORD="$((CURRENT-1))" COMP_LINE="$BUFFER" COMP_POINT="$CURSOR" ${program} --get-yargs-completions "\${words[@]}"))
  IFS=$si
  if [[ \${#reply} -gt 0 ]]; then
    _describe 'values' reply
  else
    _default
  fi
}
if [[ "\${zsh_eval_context[-1]}" == "loadautofunc" ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${program}
fi
###-end-${program}-completions-###
`;
  }
  return `###-begin-${program}-completions-###
#
# bash completion for ${program} (kubectl dbaas).
# Install: ${program} completion bash > ~/.local/share/bash-completion/completions/${program}
#      or: source <(${program} completion bash)
#
${fn}()
{
    local cur_word args type_list

    cur_word="\${COMP_WORDS[COMP_CWORD]}"
    args=("\${COMP_WORDS[@]}")

    # ask the CLI for the candidates (yargs' completion protocol)
    mapfile -t type_list < <(${program} --get-yargs-completions "\${args[@]}")
    mapfile -t COMPREPLY < <(compgen -W "$( printf '%q ' "\${type_list[@]}" )" -- "\${cur_word}" |
        awk '/ / { print "\\""$0"\\"" } /^[^ ]+$/ { print $0 }')

    # no match: fall back to file name completion
    if [ \${#COMPREPLY[@]} -eq 0 ]; then
      COMPREPLY=()
    fi

    return 0
}
complete -o bashdefault -o default -F ${fn} ${program}
###-end-${program}-completions-###
`;
}
