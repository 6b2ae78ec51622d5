import type { Migration } from 'kysely';
import * as initial from './0001_initial.js';
import * as calls from './0002_calls.js';
import * as staff from './0003_staff.js';
import * as agentTests from './0004_agent_tests.js';
import * as callAnalytics from './0005_call_analytics.js';
import * as agentWebhooks from './0006_agent_webhooks.js';
import * as callPostCall from './0007_call_post_call.js';
import * as outboundRecordings from './0008_outbound_recordings.js';

/**
 * Every migration, in order. A static list rather than a folder scan, so the
 * bundle and tsx see the same set. Never edit a released entry; add a new one.
 */
export const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_calls': calls,
  '0003_staff': staff,
  '0004_agent_tests': agentTests,
  '0005_call_analytics': callAnalytics,
  '0006_agent_webhooks': agentWebhooks,
  '0007_call_post_call': callPostCall,
  '0008_outbound_recordings': outboundRecordings,
};
