import { ScanList } from './list';
import { ScanPage } from './scan';
import { useHash } from './hooks';

export function App() {
  const hash = useHash();
  const m = /^#\/scan\/([^/?#]+)/.exec(hash);
  const scanId = m ? decodeURIComponent(m[1]!) : undefined;
  return (
    <>
      <header class="top">
        <a href="#/" class="brand">
          romidb viewer
        </a>
      </header>
      <main id="main">{scanId ? <ScanPage key={scanId} id={scanId} /> : <ScanList />}</main>
    </>
  );
}
