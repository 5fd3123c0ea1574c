/**
 * Shell completion scripts (`berth completion bash|zsh|fish`), generated
 * from the command registry: commands, their flags, and existing container
 * IDs (asked of `berth list -q` when completing, with the global options
 * already on the command line).
 *
 * @module
 */

import type { AnyCommand } from "./command.ts";

const GLOBAL_FLAGS = [
  "--root",
  "--data-root",
  "-n",
  "--namespace",
  "--runtime",
  "--network-dir",
  "--debug",
  "--help",
];
const VALUED_GLOBALS = [
  "--root",
  "--data-root",
  "-n",
  "--namespace",
  "--runtime",
  "--network-dir",
];

/** True when the command's arguments are existing container IDs. */
export function takesIds(c: AnyCommand): boolean {
  if (c.positionals !== undefined) return c.positionals.some((p) => p.name === "ID");
  return /\bID\b/.test(c.usage) && c.name !== "create" && c.name !== "run";
}

/** Static arguments a command completes (besides IDs): its positionals' choices. */
function words(c: AnyCommand): string[] {
  return (c.positionals ?? []).flatMap((p) => p.choices ?? []);
}

/** `--flag) COMPREPLY=(…)` lines for the options whose values are a closed set. */
function choiceCases(commands: readonly AnyCommand[]): string {
  const byFlag = new Map<string, Set<string>>();
  for (const c of commands) {
    for (const o of c.options) {
      if (o.choices === undefined) continue;
      const set = byFlag.get(o.name) ?? new Set<string>();
      for (const v of o.choices) set.add(v);
      byFlag.set(o.name, set);
    }
  }
  return [...byFlag].map(([name, values]) =>
    `    --${name}) COMPREPLY=($(compgen -W "${[...values].join(" ")}" -- "$cur")); return ;;\n`
  ).join("");
}

function flagsOf(c: AnyCommand): string[] {
  return c.options.flatMap((o) => [`--${o.name}`, ...(o.short ? [`-${o.short}`] : [])]).concat(
    "--help",
  );
}

/** The bash script (also used by zsh through bashcompinit). */
export function bashCompletion(commands: readonly AnyCommand[]): string {
  const visible = commands.filter((c) => !c.hidden);
  const names = visible.flatMap((c) => [c.name, ...(c.aliases ?? [])]);
  const cases = visible.map((c) => {
    const pat = [c.name, ...(c.aliases ?? [])].join("|");
    return `    ${pat}) flags="${flagsOf(c).join(" ")}"; ids=${takesIds(c) ? 1 : 0}; extra="${
      words(c).join(" ")
    }" ;;`;
  }).join("\n");
  return `# bash completion for berth (berth completion bash)
_berth() {
  local cur prev cmd="" i j flags="" ids=0 extra=""
  local -a globals=()
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      ${VALUED_GLOBALS.join("|")}) globals+=("\${COMP_WORDS[i]}" "\${COMP_WORDS[i+1]}"); ((i++)) ;;
      --debug) ;;
      -*) ;;
      *) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  if [[ -z "$cmd" ]]; then
    case "$prev" in
      --root|--data-root|--network-dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
      --runtime) COMPREPLY=($(compgen -c -- "$cur")); return ;;
      -n|--namespace) return ;;
    esac
    COMPREPLY=($(compgen -W "${GLOBAL_FLAGS.join(" ")} ${names.join(" ")}" -- "$cur"))
    return
  fi
  for ((j = i + 1; j < COMP_CWORD; j++)); do
    [[ "\${COMP_WORDS[j]}" == "--" ]] && return  # the container's own command
  done
  case "$cmd" in
${cases}
    *) return ;;
  esac
  case "$prev" in
    --bundle|--rootfs|--image-path|--cwd) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
${
    choiceCases(visible)
  }    --sandbox) COMPREPLY=($(compgen -W "$("\${COMP_WORDS[0]}" "\${globals[@]}" list -q 2>/dev/null)" -- "$cur")); return ;;
    --network) COMPREPLY=($(compgen -W "none host $("\${COMP_WORDS[0]}" "\${globals[@]}" network ls -q 2>/dev/null)" -- "$cur")); return ;;
    -e|--env|--label|--since|--berth|--restart-sec) return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ $ids == 1 ]]; then
    COMPREPLY=($(compgen -W "$extra $("\${COMP_WORDS[0]}" "\${globals[@]}" list -q 2>/dev/null)" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$extra" -- "$cur"))
  fi
}
complete -F _berth berth
`;
}

/** The zsh script: the bash function through zsh's bashcompinit. */
export function zshCompletion(commands: readonly AnyCommand[]): string {
  return `#compdef berth
# zsh completion for berth (berth completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(commands)}`;
}

/** The fish script. */
export function fishCompletion(commands: readonly AnyCommand[]): string {
  const visible = commands.filter((c) => !c.hidden);
  const lines = [
    "# fish completion for berth (berth completion fish)",
    "function __berth_ids",
    "    berth list -q 2>/dev/null",
    "end",
    "complete -c berth -f",
    "complete -c berth -n '__fish_use_subcommand' -l root -r -d 'volatile state directory'",
    "complete -c berth -n '__fish_use_subcommand' -l data-root -r -d 'persistent data directory'",
    "complete -c berth -n '__fish_use_subcommand' -s n -l namespace -r -d 'namespace'",
    "complete -c berth -n '__fish_use_subcommand' -l runtime -r -d 'OCI runtime'",
    "complete -c berth -n '__fish_use_subcommand' -l network-dir -r -d 'host-wide network definitions'",
    "complete -c berth -n '__fish_use_subcommand' -l debug -d 'debug output'",
  ];
  for (const c of visible) {
    for (const name of [c.name, ...(c.aliases ?? [])]) {
      lines.push(
        `complete -c berth -n '__fish_use_subcommand' -a ${name} -d '${
          c.summary.replaceAll("'", "\\'")
        }'`,
      );
    }
    const cond = `__fish_seen_subcommand_from ${[c.name, ...(c.aliases ?? [])].join(" ")}`;
    for (const o of c.options) {
      const short = o.short !== undefined ? ` -s ${o.short}` : "";
      const req = o.type === "string" ? " -r" : "";
      const values = o.choices !== undefined ? ` -a '${o.choices.join(" ")}'` : "";
      lines.push(
        `complete -c berth -n '${cond}'${short} -l ${o.name}${req}${values} -d '${
          o.help.replaceAll("'", "\\'")
        }'`,
      );
    }
    if (takesIds(c)) lines.push(`complete -c berth -n '${cond}' -a '(__berth_ids)'`);
    const w = words(c);
    if (w.length > 0) lines.push(`complete -c berth -n '${cond}' -a '${w.join(" ")}'`);
  }
  return lines.join("\n") + "\n";
}
