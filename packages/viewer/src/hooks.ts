import { useEffect, useState } from 'preact/hooks';
import { getJSON } from './api';

/** The hash route: `#/` (the list) or `#/scan/<id>`. */
export function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

export type Loaded<T> = { state: 'loading' } | { state: 'error'; error: string } | { state: 'ok'; data: T };

/** GET a JSON path (undefined: nothing to load). */
export function useJSON<T>(path: string | undefined): Loaded<T> | undefined {
  const [value, setValue] = useState<Loaded<T> | undefined>(path ? { state: 'loading' } : undefined);
  useEffect(() => {
    if (!path) {
      setValue(undefined);
      return;
    }
    const ctl = new AbortController();
    setValue({ state: 'loading' });
    getJSON<T>(path, ctl.signal).then(
      (data) => setValue({ state: 'ok', data }),
      (err: Error) => {
        if (!ctl.signal.aborted) setValue({ state: 'error', error: err.message });
      },
    );
    return () => ctl.abort();
  }, [path]);
  return value;
}
