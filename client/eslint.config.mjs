// ESLint for the browser code (`make lint`). Every file is an ES2022 module; each kind of script gets only the
// globals of the scope it runs in, so a page global used in a worker (or the reverse) is reported.
import js from "@eslint/js";
import globals from "globals";

const PAGE = "static/js/**/*.js";
const WORKERS = "static/js/workers/**/*.js";
const WORKLET = "static/js/workers/capture-worklet.js";

export default [
  { ignores: ["node_modules/", "static/models/"] },
  js.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: "module" },
    linterOptions: { reportUnusedDisableDirectives: "error" },
  },
  { files: [PAGE], ignores: [WORKERS], languageOptions: { globals: globals.browser } },
  { files: [WORKERS], ignores: [WORKLET], languageOptions: { globals: globals.worker } },
  { files: [WORKLET], languageOptions: { globals: globals.audioWorklet } },
];
