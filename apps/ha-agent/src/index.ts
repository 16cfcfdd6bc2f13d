export { main as haAgentMain } from './ha-agent.js';
export { main as hactlMain } from './hactl.js';
