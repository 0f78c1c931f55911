/** The Manager's tabs in navigation order (each tab is its own module in tabs/). */
import type { Tab } from './tab.js';
import { dashboardTab } from './tabs/dashboard.js';
import { policyTab } from './tabs/policy.js';
import { quarantineTab } from './tabs/quarantine.js';
import { reportsTab } from './tabs/reports.js';
import { servicesTab } from './tabs/services.js';
import { usersTab } from './tabs/users.js';
import { auditTab } from './tabs/audit.js';

export const TABS: readonly Tab[] = [
  dashboardTab,
  policyTab,
  quarantineTab,
  reportsTab,
  servicesTab,
  usersTab,
  auditTab,
];
