import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { IpBlockList, normaliseCidr } from './block-list.js';
import { ReputationTracker } from './reputation.js';
import { startIpBlockerServer, type IpBlockerServer } from './server.js';
import { DEFAULT_IPBLOCKER_SETTINGS } from './decide.js';

const servers: IpBlockerServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

function request(client: string): string {
  return `request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=${client}\nsender=a@b\nrecipient=c@d\n\n`;
}

/** Sends `payload` and collects `answers` replies (each ends with an empty line). */
function converse(port: number, payload: string, answers: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString();
      const parts = text.split('\n\n').filter((p) => p !== '');
      if (parts.length >= answers && text.endsWith('\n\n')) {
        socket.destroy();
        resolve(parts);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      resolve(text.split('\n\n').filter((p) => p !== ''));
    });
    socket.write(payload);
  });
}

test('answers in order on one connection: block, allow, unknown, DNSBL, with a slow DNSBL first', async () => {
  const cidr = (s: string): string => normaliseCidr(s) ?? '';
  const list = new IpBlockList([
    {
      cidr: cidr('192.0.2.0/24'),
      action: 'block',
      reason: 'spam run',
      addedBy: 't',
      addedAt: '',
      expiresAt: null,
    },
    {
      cidr: cidr('192.0.2.9'),
      action: 'allow',
      reason: '',
      addedBy: 't',
      addedAt: '',
      expiresAt: null,
    },
  ]);
  const refused: string[] = [];
  const server = await startIpBlockerServer({
    host: '127.0.0.1',
    port: 0,
    context: {
      list: () => list,
      reputation: new ReputationTracker(),
      dnsbl: async (ip) => {
        if (ip !== '203.0.113.66') return null;
        await new Promise((r) => setTimeout(r, 200));
        return 'bl.example.test';
      },
      settings: DEFAULT_IPBLOCKER_SETTINGS,
    },
    onDecision: (d) => refused.push(`${d.client ?? ''}:${d.source ?? ''}`),
  });
  servers.push(server);
  const answers = await converse(
    server.address.port,
    request('203.0.113.66') + request('192.0.2.7') + request('192.0.2.9') + request('198.51.100.1'),
    4,
  );
  assert.deepEqual(answers, [
    'action=554 5.7.1 Client 203.0.113.66 is listed on bl.example.test',
    'action=554 5.7.1 Client 192.0.2.7 is blocked: spam run',
    'action=DUNNO',
    'action=DUNNO',
  ]);
  assert.deepEqual(refused, ['203.0.113.66:dnsbl:bl.example.test', '192.0.2.7:local']);
});

test('a broken request gets DUNNO and the connection closes; a failing DNSBL answers DUNNO', async () => {
  const server = await startIpBlockerServer({
    host: '127.0.0.1',
    port: 0,
    context: {
      list: () => new IpBlockList([]),
      reputation: new ReputationTracker(),
      dnsbl: () => Promise.reject(new Error('resolver exploded')),
      settings: DEFAULT_IPBLOCKER_SETTINGS,
    },
  });
  servers.push(server);
  assert.deepEqual(await converse(server.address.port, 'no equals sign\n\n', 1), ['action=DUNNO']);
  assert.deepEqual(await converse(server.address.port, request('192.0.2.1'), 1), ['action=DUNNO']);
});
