import { faultSequenceSuite } from './fault-sequence-suite.js';

faultSequenceSuite({ synchronous: true });
