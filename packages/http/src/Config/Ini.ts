/**
 * A small INI reader with Python `configparser` semantics, because the deployments' config files
 * were written for the reference's `configparser.ConfigParser()`:
 * - `[section]` headers; section names are case-sensitive, option names are lower-cased;
 * - `key = value` or `key: value`; surrounding whitespace stripped; an empty value is allowed;
 * - whole-line comments start with `#` or `;`; blank lines are ignored;
 * - indented lines continue the previous value (joined with `\n`);
 * - duplicate sections or options in one section are errors (`strict=True`);
 * - `[DEFAULT]` supplies fallbacks to every section;
 * - `%(name)s` interpolation from the same section or DEFAULT, and `%%` for a literal `%`.
 * One deliberate leniency: an inline comment (` # …` or ` ; …`, i.e. preceded by whitespace) is
 * stripped, since the reference README's own sample puts comments after values and configparser
 * would otherwise turn `sandbox_env = true  # …` into a crash.
 */

export interface IniFile {
  readonly sections: ReadonlyMap<string, ReadonlyMap<string, string>>
  readonly errors: ReadonlyArray<string>
}

const stripInlineComment = (value: string): string => {
  const m = /\s[#;]/.exec(value)
  return m ? value.slice(0, m.index) : value
}

export const parseIni = (text: string, source = "INI"): IniFile => {
  const raw = new Map<string, Map<string, string>>()
  const errors: Array<string> = []
  let current: Map<string, string> | undefined
  let currentName = ""
  let lastKey: string | undefined
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\n|\r/)
  lines.forEach((line, i) => {
    const lineNo = i + 1
    const trimmed = line.trim()
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) {
      // configparser ends a multi-line value at a blank line only when empty_lines_in_values=False;
      // the default keeps them, but trailing blanks are stripped — ending here is equivalent for us.
      if (trimmed === "") lastKey = undefined
      return
    }
    if (/^\s/.test(line) && current && lastKey !== undefined) {
      const prev = current.get(lastKey) ?? ""
      current.set(lastKey, prev === "" ? stripInlineComment(trimmed).trim() : `${prev}\n${stripInlineComment(trimmed).trim()}`)
      return
    }
    const header = /^\[([^\]]+)\]\s*$/.exec(trimmed)
    if (header) {
      const name = header[1]!
      if (raw.has(name)) {
        errors.push(`${source} line ${lineNo}: section [${name}] appears twice`)
        current = raw.get(name)
      } else {
        current = new Map()
        raw.set(name, current)
      }
      currentName = name
      lastKey = undefined
      return
    }
    if (!current) {
      errors.push(`${source} line ${lineNo}: "${trimmed}" is outside any [section]`)
      return
    }
    const m = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(trimmed)
    if (!m) {
      errors.push(`${source} line ${lineNo}: "${trimmed}" in [${currentName}] is not "key = value"`)
      lastKey = undefined
      return
    }
    const key = m[1]!.toLowerCase()
    if (current.has(key)) {
      errors.push(`${source} line ${lineNo}: option "${key}" appears twice in [${currentName}]`)
    }
    current.set(key, stripInlineComment(m[2]!).trim())
    lastKey = key
  })

  const defaults = raw.get("DEFAULT") ?? new Map<string, string>()
  const sections = new Map<string, Map<string, string>>()
  for (const [name, opts] of raw) {
    if (name === "DEFAULT") continue
    const merged = new Map<string, string>([...defaults, ...opts])
    const resolved = new Map<string, string>()
    for (const [k, v] of merged) resolved.set(k, interpolate(v, merged, `[${name}] ${k}`, errors))
    sections.set(name, resolved)
  }
  return { sections, errors }
}

const interpolate = (
  value: string,
  scope: ReadonlyMap<string, string>,
  where: string,
  errors: Array<string>,
  depth = 0
): string => {
  if (!value.includes("%")) return value
  if (depth > 10) {
    errors.push(`${where}: interpolation is nested too deeply`)
    return value
  }
  return value.replace(/%%|%\(([^)]+)\)s/g, (whole, name: string | undefined) => {
    if (whole === "%%") return "%"
    const ref = scope.get(name!.toLowerCase())
    if (ref === undefined) {
      errors.push(`${where}: %(${name})s refers to an option that does not exist`)
      return whole
    }
    return interpolate(ref, scope, where, errors, depth + 1)
  })
}

/** configparser's `getboolean` vocabulary (case-insensitive). */
export const parseIniBoolean = (value: string): boolean | undefined => {
  switch (value.trim().toLowerCase()) {
    case "1":
    case "yes":
    case "true":
    case "on":
      return true
    case "0":
    case "no":
    case "false":
    case "off":
      return false
    default:
      return undefined
  }
}
