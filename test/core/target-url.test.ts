import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressClass,
  assertAllowedAddress,
  assertAllowedUrl,
  probePathProblem,
  probeTargetUrl,
  UnsafeTargetError,
  type TargetPolicy,
} from '../../core/target-url';

const cloud: TargetPolicy = { localMode: false, allowPrivateTargets: false };
const vpc: TargetPolicy = { localMode: false, allowPrivateTargets: true };
const local: TargetPolicy = { localMode: true, allowPrivateTargets: false };

function refused(url: string, policy: TargetPolicy, pattern?: RegExp): void {
  assert.throws(
    () => assertAllowedUrl(url, policy),
    (error: unknown) => error instanceof UnsafeTargetError && (!pattern || pattern.test(error.message)),
    url,
  );
}

describe('addressClass', () => {
  function expectClass(expected: ReturnType<typeof addressClass>, addresses: string[]): void {
    for (const address of addresses) assert.equal(addressClass(address), expected, address);
  }

  it('loopback: 127/8 and ::1', () => expectClass('loopback', ['127.0.0.1', '127.255.0.9', '::1', '[::1]']));
  it('unspecified: 0.0.0.0 and ::', () => expectClass('unspecified', ['0.0.0.0', '::']));
  it('link-local: 169.254/16 and fe80::/10', () =>
    expectClass('link-local', ['169.254.169.254', '169.254.0.1', 'fe80::1', 'FE80::1', 'febf::1']));
  it('private: 10/8, 172.16/12, 192.168/16, fc00::/7', () =>
    expectClass('private', ['10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.255', '192.168.1.1', 'fc00::1', 'fd12:3456::1']));
  it('public: just outside the private ranges, and ordinary addresses', () =>
    expectClass('public', ['172.15.0.1', '172.32.0.1', '192.169.1.1', '11.0.0.1', '8.8.8.8', '2001:4860:4860::8888']));
  it('IPv4-mapped IPv6 takes the class of the IPv4 address', () => {
    assert.equal(addressClass('::ffff:127.0.0.1'), 'loopback');
    assert.equal(addressClass('::ffff:169.254.169.254'), 'link-local');
    assert.equal(addressClass('::ffff:10.0.0.1'), 'private');
    assert.equal(addressClass('::ffff:8.8.8.8'), 'public');
  });
});

describe('assertAllowedAddress', () => {
  it('allows public addresses everywhere', () => {
    assert.doesNotThrow(() => assertAllowedAddress('8.8.8.8', cloud));
  });

  it('refuses private addresses unless the deployment allows private targets', () => {
    assert.throws(() => assertAllowedAddress('10.1.2.3', cloud), UnsafeTargetError);
    assert.doesNotThrow(() => assertAllowedAddress('10.1.2.3', vpc));
  });

  it('never allows loopback, link-local or unspecified outside local mode, even with private targets', () => {
    for (const address of ['127.0.0.1', '::1', '169.254.169.254', 'fe80::1', '0.0.0.0', '::']) {
      assert.throws(() => assertAllowedAddress(address, vpc), UnsafeTargetError, address);
    }
  });
});

describe('assertAllowedUrl outside local mode (SPEC Security)', () => {
  it('accepts a public https URL and returns it parsed', () => {
    const url = assertAllowedUrl('https://erp.example.com/inbound?x=1', cloud);
    assert.equal(url.hostname, 'erp.example.com');
    assert.equal(url.protocol, 'https:');
  });

  it('refuses http', () => {
    refused('http://erp.example.com/inbound', cloud, /https/);
  });

  it('refuses other schemes and non-URLs', () => {
    refused('ftp://erp.example.com/', cloud);
    refused('file:///etc/passwd', cloud);
    refused('erp.example.com/inbound', cloud);
    refused('not a url', cloud);
  });

  it('refuses loopback, link-local and unspecified IP literals', () => {
    for (const url of [
      'https://127.0.0.1/',
      'https://127.0.0.1:8443/x',
      'https://[::1]/',
      'https://169.254.169.254/latest/meta-data/',
      'https://[fe80::1]/',
      'https://0.0.0.0/',
      'https://[::]/',
    ]) {
      refused(url, cloud);
      refused(url, vpc);
    }
  });

  it('refuses loopback spelled in ways the URL parser normalises (decimal, hex, short form)', () => {
    refused('https://2130706433/', cloud);
    refused('https://0x7f.0.0.1/', cloud);
    refused('https://127.1/', cloud);
    refused('https://[0:0:0:0:0:0:0:1]/', cloud);
  });

  it('refuses an IPv4-mapped loopback literal (the URL parser rewrites it to [::ffff:7f00:1])', () => {
    refused('https://[::ffff:127.0.0.1]/', cloud);
    refused('https://[::ffff:169.254.169.254]/', cloud);
  });

  it('refuses localhost and its subdomains', () => {
    refused('https://localhost/', cloud, /loopback/);
    refused('https://LOCALHOST:8443/', cloud);
    refused('https://api.localhost/', cloud);
  });

  it('refuses private IP literals unless private targets are allowed', () => {
    for (const url of ['https://10.0.0.5/', 'https://172.16.3.4/', 'https://192.168.0.10/', 'https://[fc00::1]/']) {
      refused(url, cloud);
      assert.doesNotThrow(() => assertAllowedUrl(url, vpc), url);
    }
    assert.doesNotThrow(() => assertAllowedUrl('https://172.32.0.1/', cloud));
  });

  it('refuses credentials in the URL', () => {
    refused('https://user:secret@erp.example.com/', cloud, /credentials/);
    refused('https://user@erp.example.com/', cloud, /credentials/);
  });

  it('does not echo URL credentials in the error message', () => {
    assert.throws(
      () => assertAllowedUrl('https://user:s3cr3t-pw@erp.example.com/', cloud),
      (error: unknown) => error instanceof UnsafeTargetError && !error.message.includes('s3cr3t-pw'),
    );
  });
});

describe('assertAllowedUrl in local mode', () => {
  it('allows http and loopback targets', () => {
    assert.equal(assertAllowedUrl('http://127.0.0.1:4000/in', local).port, '4000');
    assert.doesNotThrow(() => assertAllowedUrl('http://localhost:4000/in', local));
    assert.doesNotThrow(() => assertAllowedUrl('http://[::1]:4000/in', local));
    assert.doesNotThrow(() => assertAllowedUrl('https://erp.example.com/', local));
  });

  it('still refuses link-local and unspecified addresses', () => {
    refused('http://169.254.169.254/latest/meta-data/', local);
    refused('http://[fe80::1]/', local);
    refused('http://0.0.0.0:4000/', local);
  });

  it('still refuses other schemes and credentials', () => {
    refused('ftp://127.0.0.1/', local);
    refused('http://u:p@127.0.0.1:4000/', local);
  });
});

function expectClassOf(expected: ReturnType<typeof addressClass>, addresses: string[]): void {
  for (const address of addresses) assert.equal(addressClass(address), expected, address);
}

describe('IPv4 embedded in IPv6, long forms and loopback names (issue 10 item 4)', () => {
  it('classes every IPv6 form that carries a loopback or link-local IPv4 address by that address', () => {
    expectClassOf('loopback', ['::127.0.0.1', '::ffff:0:127.0.0.1', '64:ff9b::127.0.0.1', '2002:7f00:1::', '::7f00:1']);
    expectClassOf('link-local', ['::a9fe:a9fe', '64:ff9b::a9fe:a9fe', '::ffff:0:a9fe:a9fe', '2002:a9fe:a9fe::1']);
    expectClassOf('private', ['64:ff9b::10.0.0.1', '2002:c0a8:1::', '::ffff:0:192.168.1.1']);
    expectClassOf('public', ['64:ff9b::8.8.8.8', '2002:808:808::1', '2001:4860:4860::8888']);
  });

  it('classes long and uncompressed spellings like their short forms', () => {
    expectClassOf('loopback', ['0:0:0:0:0:0:0:1', '0000:0000:0000:0000:0000:0000:0000:0001', '::ffff:7f00:1']);
    expectClassOf('unspecified', ['0:0:0:0:0:0:0:0', '0.0.0.0']);
  });

  it("refuses the issue's forms as URL literals outside local mode, and in a VPC deployment", () => {
    for (const host of [
      '[::127.0.0.1]',
      '[::ffff:0:127.0.0.1]',
      '[64:ff9b::127.0.0.1]',
      '[2002:7f00:1::]',
      '[::a9fe:a9fe]',
      '[64:ff9b::a9fe:a9fe]',
      '[::ffff:0:a9fe:a9fe]',
    ]) {
      refused(`https://${host}/`, cloud);
      refused(`https://${host}/`, vpc);
    }
  });

  it('refuses reserved ranges (multicast, broadcast, documentation) everywhere', () => {
    for (const address of ['224.0.0.1', '255.255.255.255', '192.0.2.10', 'ff02::1', '2001:db8::1']) {
      assert.throws(() => assertAllowedAddress(address, vpc), UnsafeTargetError, address);
      assert.throws(() => assertAllowedAddress(address, local), UnsafeTargetError, address);
    }
  });

  it('refuses what is not an IP address at all, rather than calling it public', () => {
    assert.equal(addressClass('not-an-address'), 'reserved');
  });

  it('refuses localhost spelled with the root dot and localhost.localdomain', () => {
    for (const name of ['localhost.', 'localhost.localdomain', 'LOCALHOST.LOCALDOMAIN.', 'api.localhost.', 'ip6-localhost']) {
      refused(`https://${name}/`, cloud);
    }
    assert.doesNotThrow(() => assertAllowedUrl('https://localhost.example.com/', cloud));
  });
});

describe('probe path (issue 10 item 3)', () => {
  it('accepts a path on the connection origin', () => {
    assert.equal(probeTargetUrl('https://erp.example.com/in', '/health?deep=1'), 'https://erp.example.com/health?deep=1');
    assert.equal(probeTargetUrl('https://erp.example.com:8443/in', '/a/../b'), 'https://erp.example.com:8443/b');
    assert.equal(probeTargetUrl('https://erp.example.com/in', undefined), 'https://erp.example.com/in');
    assert.equal(probePathProblem('/x@evil.example.com/'), undefined);
    assert.equal(new URL(probeTargetUrl('https://erp.example.com/', '/x@evil.example.com/')).host, 'erp.example.com');
  });

  it('refuses every path that would move the probe (and its credentials) to another origin', () => {
    for (const path of [
      '//evil.example.com/x',
      '//127.0.0.1:9/x',
      '/\\evil.example.com/x',
      '\\\\evil/x',
      'https://evil.example.com/',
      'evil',
      '/ /x',
      '/x\ty',
      '/x\r\nHost: evil',
    ]) {
      assert.ok(probePathProblem(path), path);
      assert.throws(() => probeTargetUrl('https://erp.example.com/in', path), UnsafeTargetError, path);
    }
  });
});
