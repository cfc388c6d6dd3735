// libqp (nodemailer's quoted-printable codec) ships plain CommonJS without type declarations.
declare module 'libqp' {
  const libqp: { decode(input: string): Buffer };
  export default libqp;
}
