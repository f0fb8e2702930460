var http = require('http');

// Answers every request; the image's node is kajitori's stand-in that does the same.
var handleRequest = function(request, response) {
  console.log('Received request for URL: ' + request.url);
  response.writeHead(200);
  response.end('Hello Kubernetes!');
};
http.createServer(handleRequest).listen(8080);
