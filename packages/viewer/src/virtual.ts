import { useLayoutEffect, useReducer, useState } from 'preact/hooks';
import { Virtualizer, elementScroll, observeElementOffset, observeElementRect, type VirtualizerOptions } from '@tanstack/virtual-core';

type Opts = Pick<VirtualizerOptions<HTMLElement, HTMLElement>, 'count' | 'getScrollElement' | 'estimateSize' | 'overscan'>;

/** @tanstack/virtual-core for Preact: what @tanstack/react-virtual's useVirtualizer does. */
export function useVirtualizer(opts: Opts): Virtualizer<HTMLElement, HTMLElement> {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const resolved: VirtualizerOptions<HTMLElement, HTMLElement> = {
    observeElementRect,
    observeElementOffset,
    scrollToFn: elementScroll,
    ...opts,
    onChange: () => rerender(undefined),
  };
  const [v] = useState(() => new Virtualizer<HTMLElement, HTMLElement>(resolved));
  v.setOptions(resolved);
  useLayoutEffect(() => v._didMount(), []);
  useLayoutEffect(() => v._willUpdate());
  return v;
}
