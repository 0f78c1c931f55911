/** Public API of filter/policy/lists: named policy lists and maps. */
export {
  CidrSet,
  parseCidr,
  parseIp,
  parseIpv4,
  parseIpv6,
  type CidrRange,
  type IpAddress,
} from './ip.js';
export {
  PolicyList,
  PolicyMap,
  classifyListEntry,
  compilePolicyData,
  isValidPolicyListName,
  parsePolicyListJson,
  validatePolicyListData,
  validatePolicyMapData,
  MAX_ENTRY_CHARS,
  type PolicyData,
  type PolicyListData,
  type PolicyListEntryKind,
  type PolicyListProblem,
  type PolicyMapData,
} from './policy-list.js';
