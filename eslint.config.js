// One linter for the whole repository: typescript-eslint strict-type-checked, plus the
// layer rules of ARCHITECTURE.md (ui, cluster → appliance → filter; other folders only
// through their index.ts).
import tseslint from 'typescript-eslint';

const deepImport = (folder) => ({
  regex: `(^|/)${folder}/(?!index\\.js$)`,
  message: `Import ${folder}/ only through ${folder}/index.js (STYLE.md B2).`,
});
const upwardImport = (folders) => ({
  regex: `(^|/)(${folders.join('|')})/`,
  message: 'Import direction is ui/cluster → appliance → filter (ARCHITECTURE.md).',
});
const layer = (files, patterns) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns }] },
});

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '**/testdata/**',
      'eslint.config.js',
      'bin/parapet.js',
      'scripts/**/*.mjs',
    ],
  },
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's test()/describe() return promises the runner itself awaits.
          allowForKnownSafeCalls: [
            { from: 'package', name: ['test', 'it', 'describe', 'suite'], package: 'node:test' },
          ],
        },
      ],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': 'off',
    },
  },
  layer(['filter/**/*.ts'], [upwardImport(['appliance', 'cluster', 'ui', 'provisioning', 'bin'])]),
  layer(
    ['appliance/**/*.ts'],
    [upwardImport(['cluster', 'ui', 'provisioning', 'bin']), deepImport('filter')],
  ),
  layer(
    ['cluster/**/*.ts', 'ui/**/*.ts'],
    [upwardImport(['provisioning', 'bin']), deepImport('filter'), deepImport('appliance')],
  ),
  layer(
    ['provisioning/**/*.ts'],
    [
      upwardImport(['ui', 'bin']),
      deepImport('filter'),
      deepImport('appliance'),
      deepImport('cluster'),
    ],
  ),
  layer(
    ['bin/**/*.ts'],
    [
      deepImport('filter'),
      deepImport('appliance'),
      deepImport('cluster'),
      deepImport('ui'),
      deepImport('provisioning'),
    ],
  ),
  {
    files: ['**/*.test.ts', '**/test/**/*.ts', '**/bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
);
