import type nodemailer from 'nodemailer';
import { onDemand } from '../../core/on-demand.js';

/** One message out; the SMTP adapter (nodemailer) and tests implement it. */
export interface MailMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface MailTransport {
  send(message: MailMessage): Promise<void>;
  close(): void;
}

/** nodemailer is loaded only when SMTP_URL is set (docs/architecture.md#memory). */
const mailer = onDemand<typeof nodemailer>('nodemailer');

/** No SMTP dialogue may hang a worker: a server that stops answering fails the attempt (and it is retried). */
const SMTP_TIMEOUT_MS = 15_000;

/** SMTP through nodemailer, from SMTP_URL (`smtp://` upgrades with STARTTLS when offered, `smtps://` is TLS from the start). */
export function smtpTransport(smtpUrl: string): MailTransport {
  const url = new URL(smtpUrl);
  const transporter = mailer().createTransport({
    host: url.hostname,
    port: url.port ? Number(url.port) : url.protocol === 'smtps:' ? 465 : 587,
    secure: url.protocol === 'smtps:',
    ...(url.username ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } } : {}),
    connectionTimeout: SMTP_TIMEOUT_MS,
    greetingTimeout: SMTP_TIMEOUT_MS,
    socketTimeout: SMTP_TIMEOUT_MS,
  });
  return {
    async send(message) {
      await transporter.sendMail(message);
    },
    close: () => transporter.close(),
  };
}
