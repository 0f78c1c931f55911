# Parapet's default policy (filter/policy/default/README.md). Administrators may change any of
# it; the named lists are managed with `parapet list`.
require ["reject", "vnd.parapet.scan", "vnd.parapet.lists", "vnd.parapet.actions",
         "vnd.parapet.headers", "vnd.parapet.log"];

# Block lists: refuse mail from blocked senders (envelope or From header) and client addresses.
if anyof (listed :sender "block-senders", listed :from "block-senders",
          listed :ip "block-ips") {
  logmark "blocked";
  reject "Message refused by policy";
  stop;
}

# Viruses are held in the quarantine (use reject instead to refuse them).
if virus {
  logmark "virus";
  quarantine "virus found";
  stop;
}

# The virus scanner could not scan the message: defer it, the MTA retries later.
if unscanned {
  logmark "unscanned";
  tempfail "Virus scan unavailable, try again later";
  stop;
}

# Encrypted or otherwise unscannable content is held for an administrator.
if unscannable {
  logmark "unscannable";
  quarantine "unscannable content";
  stop;
}

# Allowed senders and client addresses skip the spam checks.
if anyof (listed :sender "allow-senders", listed :ip "allow-ips") {
  logmark "allowed";
  accept;
}

# The end users' own lists (End User Web Interface): a sender every recipient blocked is held
# in the quarantine; one every recipient approved skips the spam checks.
if anyof (listed :sender :recipientmap "user-block-senders",
          listed :from :recipientmap "user-block-senders") {
  logmark "user-blocked";
  quarantine "sender blocked by the recipient";
  stop;
}
if listed :sender :recipientmap "user-allow-senders" {
  logmark "user-allowed";
  accept;
}

# High spam (score at least twice the threshold) is quarantined.
if spamscore :ge :threshold "2" {
  logmark "spam-high";
  quarantine "high spam score";
  stop;
}

# Probable spam (score at or above the threshold) is delivered, marked.
if spam {
  logmark "spam";
  marksubject "[SPAM]";
  setheader "X-Parapet-Spam-Flag" "YES";
  stop;
}
