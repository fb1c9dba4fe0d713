export { EventBus, type MandateEvents } from './bus.js';
