/**
 * The default policy that ships (README.md). The text is kept here so it is part of the build;
 * default.sieve holds the same text for administrators (a test keeps the two equal).
 */
import { compile, type SieveCompileResult } from '../sieve/index.js';
import { GATEWAY_EXTENSIONS } from '../gateway/index.js';

/** Text of default.sieve. */
export const DEFAULT_POLICY_TEXT: string =
  "# Parapet's default policy (filter/policy/default/README.md). Administrators may change any of\n" +
  '# it; the named lists are managed with `parapet list`.\n' +
  'require ["reject", "vnd.parapet.scan", "vnd.parapet.lists", "vnd.parapet.actions",\n' +
  '         "vnd.parapet.headers", "vnd.parapet.log"];\n' +
  '\n' +
  '# Block lists: refuse mail from blocked senders (envelope or From header) and client addresses.\n' +
  'if anyof (listed :sender "block-senders", listed :from "block-senders",\n' +
  '          listed :ip "block-ips") {\n' +
  '  logmark "blocked";\n' +
  '  reject "Message refused by policy";\n' +
  '  stop;\n' +
  '}\n' +
  '\n' +
  '# Viruses are held in the quarantine (use reject instead to refuse them).\n' +
  'if virus {\n' +
  '  logmark "virus";\n' +
  '  quarantine "virus found";\n' +
  '  stop;\n' +
  '}\n' +
  '\n' +
  '# The virus scanner could not scan the message: defer it, the MTA retries later.\n' +
  'if unscanned {\n' +
  '  logmark "unscanned";\n' +
  '  tempfail "Virus scan unavailable, try again later";\n' +
  '  stop;\n' +
  '}\n' +
  '\n' +
  '# Encrypted or otherwise unscannable content is held for an administrator.\n' +
  'if unscannable {\n' +
  '  logmark "unscannable";\n' +
  '  quarantine "unscannable content";\n' +
  '  stop;\n' +
  '}\n' +
  '\n' +
  '# Allowed senders and client addresses skip the spam checks.\n' +
  'if anyof (listed :sender "allow-senders", listed :ip "allow-ips") {\n' +
  '  logmark "allowed";\n' +
  '  accept;\n' +
  '}\n' +
  '\n' +
  "# The end users' own lists (End User Web Interface): a sender every recipient blocked is held\n" +
  '# in the quarantine; one every recipient approved skips the spam checks.\n' +
  'if anyof (listed :sender :recipientmap "user-block-senders",\n' +
  '          listed :from :recipientmap "user-block-senders") {\n' +
  '  logmark "user-blocked";\n' +
  '  quarantine "sender blocked by the recipient";\n' +
  '  stop;\n' +
  '}\n' +
  'if listed :sender :recipientmap "user-allow-senders" {\n' +
  '  logmark "user-allowed";\n' +
  '  accept;\n' +
  '}\n' +
  '\n' +
  '# High spam (score at least twice the threshold) is quarantined.\n' +
  'if spamscore :ge :threshold "2" {\n' +
  '  logmark "spam-high";\n' +
  '  quarantine "high spam score";\n' +
  '  stop;\n' +
  '}\n' +
  '\n' +
  '# Probable spam (score at or above the threshold) is delivered, marked.\n' +
  'if spam {\n' +
  '  logmark "spam";\n' +
  '  marksubject "[SPAM]";\n' +
  '  setheader "X-Parapet-Spam-Flag" "YES";\n' +
  '  stop;\n' +
  '}\n';

/** Names of the lists the default policy reads (missing lists match nothing). */
export const DEFAULT_POLICY_LISTS: readonly string[] = Object.freeze([
  'block-senders',
  'block-ips',
  'allow-senders',
  'allow-ips',
]);

/** Compiles a policy text with the gateway extensions (the default policy when no text). */
export function compilePolicy(text: string = DEFAULT_POLICY_TEXT): SieveCompileResult {
  return compile(text, { extraExtensions: GATEWAY_EXTENSIONS });
}
