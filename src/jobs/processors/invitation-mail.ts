import type { Invitation, InvitationSender } from '../../handoff/staff-service.js';
import type { Logger } from '../../core/logger.js';
import type { JobDefinition, JobRunner, RetryPolicy } from '../runner.js';
import type { MailTransport } from '../mail/smtp.js';

/**
 * Staff invitation mail (docs/jobs.md#invitation-mail): an invitation or a
 * resend queues one mail with the activation link; a worker sends it over SMTP.
 * Without SMTP_URL, or for a person without an email address, nothing is
 * queued and the admin shares the link from the API response.
 */

export const INVITATION_MAIL_JOB = 'invitation-mail';

/** Six tries over about an hour (1, 2, 4, 8, 16 min apart): a mail server's outage rarely lasts longer, and a link stays valid 7 days. */
export const INVITATION_MAIL_RETRY_POLICY: RetryPolicy = { attempts: 6, backoff: { type: 'exponential', delayMs: 60_000 } };

export interface InvitationMailJob {
  to: string;
  displayName: string;
  activationUrl: string;
  /** ISO 8601. */
  expiresAt: string;
}

export function invitationMailJob(deps: { transport: MailTransport; from: string; policy?: RetryPolicy }): JobDefinition<InvitationMailJob> {
  return {
    name: INVITATION_MAIL_JOB,
    policy: deps.policy ?? INVITATION_MAIL_RETRY_POLICY,
    concurrency: 2,
    async process(job) {
      await deps.transport.send({ from: deps.from, to: job.to, ...invitationMessage(job) });
    },
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function invitationMessage(job: InvitationMailJob): { subject: string; text: string; html: string } {
  const expires = new Date(job.expiresAt).toUTCString();
  return {
    subject: 'Your invitation to the voice agent console',
    text:
      `Hello ${job.displayName},\n\n` +
      `You have been invited to the voice agent console. Choose your password here:\n\n${job.activationUrl}\n\n` +
      `The link works once and expires on ${expires}. If you did not expect this mail, ignore it.\n`,
    html:
      `<p>Hello ${escapeHtml(job.displayName)},</p>` +
      `<p>You have been invited to the voice agent console. <a href="${escapeHtml(job.activationUrl)}">Choose your password</a>.</p>` +
      `<p>The link works once and expires on ${escapeHtml(expires)}. If you did not expect this mail, ignore it.</p>`,
  };
}

/** The staff service's InvitationSender: queues the mail when it can be sent, says why when not. */
export function mailingInvitations(deps: { jobs: JobRunner; mailConfigured: boolean; logger: Logger }): InvitationSender {
  return {
    async send(invitation: Invitation) {
      const { staff } = invitation;
      if (!deps.mailConfigured) {
        deps.logger.info({ staffId: staff.id }, 'no SMTP_URL: no invitation mail; share the activation link from the API response');
        return;
      }
      if (!staff.email) {
        deps.logger.info({ staffId: staff.id }, 'the person has no email address: no invitation mail; share the activation link');
        return;
      }
      await deps.jobs.enqueue<InvitationMailJob>(INVITATION_MAIL_JOB, {
        to: staff.email,
        displayName: staff.displayName,
        activationUrl: invitation.activationUrl,
        expiresAt: new Date(invitation.expiresAtMs).toISOString(),
      });
    },
  };
}
