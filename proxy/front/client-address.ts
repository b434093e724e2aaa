// The client's address when it is not the socket's peer: a trusted PROXY protocol header named it.
// Passed into the front ends as an option; absent means the socket's own remote address.

export interface ClientAddress {
  address: string;
  port: number;
}
