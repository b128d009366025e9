// The package as a front-end team gets it: `npm pack` (which generates the
// .d.ts first), the tarball installed into a scratch project in a temp
// dir, and a strict TypeScript file type-checked against what it
// installed. Also: the tarball holds the source and the types, no tests.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, '..', '..');
const tsc = join(packageDir, 'node_modules', 'typescript', 'bin', 'tsc');
const scratch = mkdtempSync(join(tmpdir(), 'portcullis-client-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const npm = (args, cwd) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8' });

test('the packed tarball installs into a project and type-checks a strict TypeScript file', () => {
  const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', scratch], packageDir));
  const files = packed.files.map((f) => f.path).sort();
  assert.deepEqual(files, [
    'README.md', 'dist/auth-client.d.ts', 'dist/webauthn.d.ts', 'package.json', 'src/auth-client.js', 'src/webauthn.js',
  ].sort());
  assert.equal(packed.name, '@portcullis/client');

  const app = join(scratch, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }));
  npm(['install', '--offline', join(scratch, packed.filename)], app);
  assert.ok(existsSync(join(app, 'node_modules', '@portcullis', 'client', 'dist', 'auth-client.d.ts')));

  copyFileSync(join(here, 'consumer.ts'), join(app, 'consumer.ts'));
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'es2022',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      lib: ['es2022', 'dom'],
      strict: true,
      noEmit: true,
      types: [],
    },
    files: ['consumer.ts'],
  }));
  try {
    execFileSync(process.execPath, [tsc, '-p', app], { cwd: app, encoding: 'utf8' });
  } catch (err) {
    assert.fail(`tsc found errors in consumer.ts:\n${err.stdout}${err.stderr}`);
  }
});
