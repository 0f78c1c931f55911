/*
 * The floor for bench:mta's milter modes: a milter that does nothing but what Parapet's milter
 * must do at the least (add one header at end of message, accept), written in C with
 * sendmail's libmilter (Debian libmilter-dev). It negotiates the same steps and no-reply flags
 * as filter/milter does on each transport, so the difference between its rate and no filter
 * is what Postfix's own milter work costs on this machine; Parapet's milter can only come
 * close to it. Built and started by appliance/test/e2e/support/floor-milter.ts; not shipped.
 *
 * Usage: floor-milter SOCKET unix|tcp   (SOCKET as libmilter writes it: unix:/path, inet:PORT@HOST)
 */
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <string.h>

static int over_tcp = 0;

/* Steps negotiated away from replies, as filter/milter/server.ts does: over a unix socket
 * every envelope and content step and no DATA step; over TCP the same but MAIL and DATA are
 * answered (Nagle on Postfix's side, FIELD-NOTES.md). */
static unsigned long wanted_protocol(void) {
  unsigned long quiet = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_RCPT | SMFIP_NR_HDR |
                        SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_NOUNKNOWN;
  return over_tcp ? quiet : quiet | SMFIP_NR_MAIL | SMFIP_NODATA;
}

static unsigned long negotiated = 0;

static sfsistat quiet_or_continue(unsigned long flag) {
  return (negotiated & flag) != 0 ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr) {
  (void)ctx; (void)host; (void)addr;
  return quiet_or_continue(SMFIP_NR_CONN);
}
static sfsistat on_helo(SMFICTX *ctx, char *name) {
  (void)ctx; (void)name;
  return quiet_or_continue(SMFIP_NR_HELO);
}
static sfsistat on_mail(SMFICTX *ctx, char **args) {
  (void)ctx; (void)args;
  return quiet_or_continue(SMFIP_NR_MAIL);
}
static sfsistat on_rcpt(SMFICTX *ctx, char **args) {
  (void)ctx; (void)args;
  return quiet_or_continue(SMFIP_NR_RCPT);
}
static sfsistat on_data(SMFICTX *ctx) {
  (void)ctx;
  return SMFIS_CONTINUE;
}
static sfsistat on_header(SMFICTX *ctx, char *name, char *value) {
  (void)ctx; (void)name; (void)value;
  return quiet_or_continue(SMFIP_NR_HDR);
}
static sfsistat on_eoh(SMFICTX *ctx) {
  (void)ctx;
  return quiet_or_continue(SMFIP_NR_EOH);
}
static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t size) {
  (void)ctx; (void)chunk; (void)size;
  return quiet_or_continue(SMFIP_NR_BODY);
}
static sfsistat on_eom(SMFICTX *ctx) {
  /* Over TCP no header: libmilter cannot turn Nagle off on its sockets, and a second reply
   * frame would wait for Postfix's delayed ACK (measured: 147 msg/s instead of ~300). Without
   * it the floor does a little less than Parapet must; it stays a floor. */
  if (!over_tcp) smfi_addheader(ctx, "X-Parapet-Id", "floor");
  return SMFIS_ACCEPT;
}

static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3) {
  (void)ctx; (void)f2; (void)f3;
  *pf0 = SMFIF_ADDHDRS & f0;
  /* Every session negotiates the same, so one global copy is enough for the callbacks. */
  negotiated = wanted_protocol() & f1;
  *pf1 = negotiated;
  *pf2 = 0;
  *pf3 = 0;
  return SMFIS_CONTINUE;
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[2], "unix") != 0 && strcmp(argv[2], "tcp") != 0)) {
    fprintf(stderr, "usage: floor-milter SOCKET unix|tcp\n");
    return 2;
  }
  over_tcp = strcmp(argv[2], "tcp") == 0;
  struct smfiDesc desc;
  memset(&desc, 0, sizeof desc);
  desc.xxfi_name = "parapet-floor";
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = SMFIF_ADDHDRS;
  desc.xxfi_connect = on_connect;
  desc.xxfi_helo = on_helo;
  desc.xxfi_envfrom = on_mail;
  desc.xxfi_envrcpt = on_rcpt;
  desc.xxfi_data = on_data;
  desc.xxfi_header = on_header;
  desc.xxfi_eoh = on_eoh;
  desc.xxfi_body = on_body;
  desc.xxfi_eom = on_eom;
  desc.xxfi_negotiate = on_negotiate;
  if (smfi_setconn(argv[1]) == MI_FAILURE || smfi_register(desc) == MI_FAILURE) {
    fprintf(stderr, "floor-milter: cannot register on %s\n", argv[1]);
    return 1;
  }
  return smfi_main() == MI_SUCCESS ? 0 : 1;
}
