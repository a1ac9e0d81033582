/** A JSON value as nested `<details>`, the first `openDepth` levels open. */
export function Tree({ value, name, openDepth = 0 }: { value: unknown; name?: string; openDepth?: number }) {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
    return (
      <details open={openDepth > 0}>
        <summary>
          {name !== undefined && <span class="key">{name}</span>} <span class="kind">{Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`}</span>
        </summary>
        <ul>
          {entries.map(([k, v]) => (
            <li key={k}>
              <Tree name={k} value={v} openDepth={openDepth - 1} />
            </li>
          ))}
        </ul>
      </details>
    );
  }
  return (
    <span class="leaf">
      {name !== undefined && <span class="key">{name}: </span>}
      <span class={`value value-${typeof value}`}>{JSON.stringify(value)}</span>
    </span>
  );
}
