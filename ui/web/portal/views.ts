/** The views of the End User and Groups Web Interface, in navigation order (one line each). */
import type { SessionInfo } from '../shared/api.js';
import { myQuarantineView } from './views/quarantine.js';
import { sendersView } from './views/senders.js';
import { preferencesView } from './views/preferences.js';
import { groupsView } from './views/groups.js';

export interface View {
  readonly id: string;
  readonly title: string;
  /** Roles that see this view. */
  readonly roles: readonly string[];
  render(
    root: HTMLElement,
    session: SessionInfo,
    params: URLSearchParams,
  ): Promise<(() => void) | undefined>;
}

export const VIEWS: readonly View[] = [myQuarantineView, sendersView, preferencesView, groupsView];
