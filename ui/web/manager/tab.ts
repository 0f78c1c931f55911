/** A Manager tab: its place in the navigation and how it draws itself into the main area. */
import type { SessionInfo } from '../shared/api.js';

export interface Tab {
  /** URL fragment: #/<id> */
  readonly id: string;
  readonly title: string;
  /** Draws the tab; the returned function (if any) runs when the user leaves it (close sockets, timers). */
  render(
    root: HTMLElement,
    session: SessionInfo,
    params: URLSearchParams,
  ): Promise<(() => void) | undefined>;
}
