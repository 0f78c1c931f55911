/** The Manager's tabs in navigation order (one line each; each tab is its own module). */
import type { Tab } from './tab.js';

export const TABS: readonly Tab[] = [];
