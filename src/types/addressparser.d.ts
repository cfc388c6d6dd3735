// addressparser 1.x ships plain CommonJS without type declarations.
declare module 'addressparser' {
  namespace addressparser {
    interface Address {
      name: string;
      address: string;
    }
    interface Group {
      name: string;
      /** Groups may nest, so members can themselves be groups. */
      group: Array<Address | Group>;
    }
    type AddressOrGroup = Address | Group;
  }
  function addressparser(field: string): addressparser.AddressOrGroup[];
  export = addressparser;
}
