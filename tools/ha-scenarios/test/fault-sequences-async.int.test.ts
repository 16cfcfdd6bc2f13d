import { faultSequenceSuite } from './fault-sequence-suite.js';

faultSequenceSuite({ synchronous: false });
