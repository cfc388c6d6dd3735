// The part of mailsplit (nodemailer's streaming MIME splitter) the gateway uses.
declare module 'mailsplit' {
  import { Transform } from 'node:stream';
  export class Splitter extends Transform {
    constructor(options?: object);
  }
}
