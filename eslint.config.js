// Type-aware lint rules that catch what the compiler does not: unhandled promises, promises passed
// where a callback's result is ignored, and switches that miss a case of a union (issue 15).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/.turbo/**',
      '.test-results/**',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
      '*.ts',
      '{packages,apps,tools}/*/*.ts',
    ],
  },
  {
    files: ['{packages,apps,tools}/*/{src,test}/**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
);
