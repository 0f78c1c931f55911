# Stand-in for the default policy (filter/policy/default/default.sieve) in core Sieve only, so
# `npm run bench:policy` has a policy of the same shape before the gateway extensions exist:
# virus, block list, allow list, spam levels, subject marking, a few header and address rules,
# one body rule (reached by about a third of the corpus with the bench's inputs). Used only by
# appliance/bench/policy-bench.ts: --script appliance/bench/policy-bench-standin.sieve
require ["fileinto", "reject", "envelope", "variables", "relational",
         "comparator-i;ascii-numeric", "subaddress", "body", "imap4flags", "regex",
         "editheader", "spamtest", "spamtestplus", "virustest", "date", "index", "copy"];

set "mark" "[SPAM]";
set "reason" "";

# 1-2. Viruses: reject the sure ones, hold the suspicious ones.
if virustest :value "ge" :comparator "i;ascii-numeric" "4" {
  addheader "X-Parapet-Virus" "infected";
  reject "Message rejected: a virus was found";
  stop;
}
if virustest :value "eq" :comparator "i;ascii-numeric" "3" {
  fileinto "Quarantine/virus-suspect";
  stop;
}

# 3-5. Block lists: sender domains, envelope senders, relays.
if address :domain :is "from" ["spammer.example", "bulk-mailer.example", "cheap-meds.example",
                               "lotto-winner.example", "offers.example.biz", "xent.com.invalid"] {
  reject "Sender blocked by policy";
  stop;
}
if envelope :all :is "from" ["blocked@example.net", "abuse@spam.example", "list@bad.example"] {
  reject "Envelope sender blocked by policy";
  stop;
}
if header :regex "received" "\\[(10\\.66\\.|192\\.0\\.2\\.|198\\.51\\.100\\.)[0-9.]+\\]" {
  fileinto "Quarantine/blocked-relay";
  stop;
}

# 6-8. Allow lists bypass the spam rules.
if anyof (address :domain :is "from" ["spamassassin.taint.org", "example.com",
                                      "lists.sourceforge.net", "redhat.com"],
          envelope :domain :is "from" ["trusted.example", "partner.example"],
          address :localpart :is "to" ["postmaster", "abuse"]) {
  set "allowed" "yes";
  addheader "X-Parapet-Allowed" "sender";
}
if header :contains "list-id" ["<exmh-workers.", "<razor-users.", "<spamassassin-talk."] {
  set "allowed" "yes";
}
if address :user :is "to" ["postmaster", "hostmaster", "webmaster"] {
  set "allowed" "yes";
}

# 9-10. Unscannable or oversized mail is held.
if size :over 10M {
  fileinto "Quarantine/oversize";
  stop;
}
if header :contains "content-type" ["application/x-msdownload", "application/x-msdos-program"] {
  fileinto "Quarantine/attachment";
  stop;
}

# 11-19. Spam levels (skipped for allowed senders).
if string :is "${allowed}" "" {
  if spamtest :value "ge" :comparator "i;ascii-numeric" "9" {
    addheader "X-Spam-Flag" "YES";
    fileinto "Quarantine/spam";
    stop;
  }
  if spamtest :percent :value "ge" :comparator "i;ascii-numeric" "50" {
    set "reason" "probable spam";
  } elsif anyof (header :contains "subject" ["viagra", "mortgage", "free money", "winner",
                                              "act now", "limited time", "$$$"],
                 header :matches "from" ["*@*.ru", "*@*.cn", "*noreply*@*"]) {
    set "reason" "suspicious subject or sender";
  } elsif header :regex "subject" "^(re|fwd?): *[A-Z0-9 !]{12,}$" {
    set "reason" "shouting subject";
  }
  if allof (spamtest :value "ge" :comparator "i;ascii-numeric" "3",
            body :text :contains ["click here", "unsubscribe", "100% free", "remove me"]) {
    set "reason" "spam phrases in the body";
  }
  if not string :is "${reason}" "" {
    if header :matches "subject" "*" {
      set "subject" "${1}";
    }
    deleteheader "Subject";
    addheader "Subject" "${mark} ${subject}";
    addheader "X-Spam-Flag" "YES";
    addheader "X-Parapet-Reason" "${reason}";
    addflag "$Junk";
  }
}

# 20-25. Header hygiene and routing.
if not exists ["message-id", "date"] {
  addheader "X-Parapet-Note" "missing message-id or date";
}
if header :contains "x-mailer" ["The Bat!", "Microsoft Outlook Express", "Mozilla"] {
  set "mua" "common";
}
if header :index 1 :matches "received" "from * by *" {
  set "hop" "${2}";
}
if address :is :comparator "i;ascii-casemap" "from" "${hop}" {
  addheader "X-Parapet-Note" "sender equals first hop";
}
if date :value "lt" :originalzone "date" "year" "1995" {
  addheader "X-Parapet-Note" "date in the past";
}
if header :matches "to" ["*undisclosed*", "*recipients*"] {
  setflag "$Undisclosed";
}

# 26-30. Delivery.
if envelope :detail :is "to" "spam" {
  fileinto "Junk";
  stop;
}
if header :is "x-spam-flag" "YES" {
  fileinto :copy "Audit/spam";
}
if address :domain :matches "from" "*.edu" {
  fileinto "Academic";
}
if header :regex "precedence" "^(bulk|list|junk)$" {
  keep;
}
if envelope :all :is "from" "" {
  discard;
}
