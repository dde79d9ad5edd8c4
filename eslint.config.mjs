// eslint over the console's script (a browser module, no build step) and the
// scripts the tests run in node. Run by tests/console/eslint_test.cc, so CI runs it too.
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['build*/**', 'node_modules/**'] },
  {
    files: ['console/**/*.js'],
    ...js.configs.recommended,
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: globals.browser },
    rules: {
      ...js.configs.recommended.rules,
      eqeqeq: 'error',
      'no-unused-vars': ['error', { args: 'after-used' }],
      'prefer-const': 'error',
      'no-var': 'error',
      'no-eval': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
      // Text from the service goes through textContent: no HTML parsing of it.
      'no-restricted-properties': ['error',
        { property: 'innerHTML', message: 'Use textContent: nothing from the service is parsed as HTML.' },
        { property: 'outerHTML', message: 'Use textContent: nothing from the service is parsed as HTML.' },
        { property: 'insertAdjacentHTML', message: 'Use DOM nodes: nothing from the service is parsed as HTML.' }],
    },
  },
  {
    files: ['tests/**/*.mjs'],
    ...js.configs.recommended,
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: { ...globals.node, ...globals.browser } },
  },
];
