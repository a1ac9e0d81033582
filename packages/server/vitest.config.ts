import { romiProject } from '../../tools/vitest-project.js';

export default romiProject('server');
