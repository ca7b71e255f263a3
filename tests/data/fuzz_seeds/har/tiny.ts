# two series, two dimensions, length 3
@problemName tiny
@timeStamps false
@equalLength true
@classLabel true up down
@data
1.0,2.0,3.0:0.5,0.25,0.125:up
-1,-2,-3:4,5,6:down
